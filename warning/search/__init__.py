"""Full-text search and on-demand risk screening over the stored documents (docs/search.md)."""
