"""Recall@k of dense and graph retrieval on a question set; see hippograph/eval/retrieval.py."""

import sys

from hippograph.eval.retrieval import main

if __name__ == "__main__":
    sys.exit(main())
