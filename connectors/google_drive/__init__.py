"""Google Drive (v3) with a service account: folders and product images read, nightly backups written."""
