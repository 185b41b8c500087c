"""Domain types of the SMARTER×SMARTER service: enums, value checks, rubric and scoring."""
