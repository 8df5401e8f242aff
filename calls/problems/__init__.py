"""What went wrong on a call: the checks (`checks`, plain functions over a call's
records), their stored verdict (`store`), the beat sweep for what only time reveals
(`sweep`), and the alerts that tell support (`alerts`). The read-only timeline shows them."""
