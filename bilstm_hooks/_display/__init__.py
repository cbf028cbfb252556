"""Floor 8: what people look at: text, notebook HTML, diagrams, plots, the torchinfo
summary, the debugger's variables pane."""
