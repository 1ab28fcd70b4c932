"""The provider service (schools, colleges, AP providers): AP placements, part-time timetables,
post-16 destinations."""
