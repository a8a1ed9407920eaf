"""Exact match and F1 of LLM answers on a question set; see hippograph/eval/qa.py."""

import sys

from hippograph.eval.qa import main

if __name__ == "__main__":
    sys.exit(main())
