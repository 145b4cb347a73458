"""Bitstream coding: the latent prior, the stream layout, model-update coding, report CRCs."""
