"""Learning modes: a spoken quiz (and, later, practice conversations) beside questions and answers."""
