"""Route mail from configured sender domains to a team, and tag it (README.md here)."""
