"""Side-by-side benchmarks: each compares this project with a named peer or the bare floor."""
