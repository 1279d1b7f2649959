"""Data filters shared by the data stages (inverse, agents, train): steps on records that no one
stage owns, so a stage uses them without importing another stage's package."""
