"""Input and output at the edges of the pipeline: reading images and depth, drawing overlays, atomic
writes."""
