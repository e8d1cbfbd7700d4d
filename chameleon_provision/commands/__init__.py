"""Bodies of the smaller commands (analyze, doctor, status rendering) behind the click shell."""
