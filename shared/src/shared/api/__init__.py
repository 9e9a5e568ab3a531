"""HTTP plumbing every service's API shares: auth, problem responses, pagination, ops routes."""
