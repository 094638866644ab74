"""The strategy's statistical indicators: applications, grants, applicant types, targets."""
