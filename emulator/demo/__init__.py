"""`pipemu demo`: the article's scenario played against a running daemon, for trainers."""
