"""`quota-watch report` and `quota-watch history`: gathering, filtering and rendering."""
