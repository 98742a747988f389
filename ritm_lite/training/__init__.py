"""Iterative training with mask guidance and the trainer."""

from .iterative import add_training_clicks, click_candidates, simulate_interaction, training_next_click

__all__ = ["add_training_clicks", "click_candidates", "simulate_interaction", "training_next_click"]
