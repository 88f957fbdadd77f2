"""Offline training code for rtmir: data synthesis (``training.synth``), datasets, losses, training
entry points and evaluation. Imports torch where it needs it; the runtime (``rtmir``) never
imports anything from here."""
