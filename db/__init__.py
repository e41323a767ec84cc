"""JobDash's data layer: models, engines, and the only query and write functions the app calls."""
