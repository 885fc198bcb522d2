"""The offline market: synthetic and CSV sources, labelled anomalies and the vendor-protocol servers on 127.0.0.1."""
