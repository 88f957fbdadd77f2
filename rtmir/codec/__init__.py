"""The codec's file side: the ``.rtq`` container (``container``), packet-loss concealment
(``conceal``) and whole-file encode/decode through the shipped encoder and decoder (``files``)."""
