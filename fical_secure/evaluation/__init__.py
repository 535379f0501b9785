"""FICAL's claim, measured: the ablation of what each kind of knowledge adds, with CIs."""
