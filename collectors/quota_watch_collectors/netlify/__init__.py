"""The `netlify` collector: team bandwidth, build minutes and credits from Netlify's API."""
