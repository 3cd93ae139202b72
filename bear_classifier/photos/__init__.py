"""Photos: image search, the downloader, the published manifests and their photos."""
