"""Evidence recall@k per question category on LoCoMo conversations; see hippograph/eval/locomo_retrieval.py."""

import sys

from hippograph.eval.locomo_retrieval import main

if __name__ == "__main__":
    sys.exit(main())
