"""WildBench v2 (Lin et al., 2024, arXiv 2406.04770; github.com/allenai/WildBench): data
loading and prompts (`data`), judge templates (`templates`), WB-Score / WB-Reward arithmetic
(`scoring`). The Task itself is bolt_eval/benchmarks/wildbench.py."""
