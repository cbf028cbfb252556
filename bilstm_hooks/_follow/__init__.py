"""Floor 5: names carried through torch ops (`bh.follow()`), and the layout bugs
caught at the line that makes them."""
