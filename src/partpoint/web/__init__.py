"""The web page (``partpoint serve``): a Gradio app over the predictor; see :mod:`partpoint.web.app`."""
