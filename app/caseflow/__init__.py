"""Case workflow: working-time calendar, deadlines and the case state machine."""
