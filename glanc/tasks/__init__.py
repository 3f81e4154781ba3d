"""The tasks a user runs, each the whole flow for one command: build, plan,
check and gc. The CLI calls these and nothing below them."""
