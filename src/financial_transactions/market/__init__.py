"""Market structure shared by the replay, the pipeline and the features: sessions and holidays."""
