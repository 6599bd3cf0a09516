"""Registration watch: predicted lookalikes and user-listed names checked until they appear."""
