"""Tools with their own menu and windows (review, retraining): one folder each, each
registering a :class:`fer_desktop._qt.panels.ToolSpec`."""
