"""Sites, departments, employees and devices; the versioned roster sent to terminals."""
