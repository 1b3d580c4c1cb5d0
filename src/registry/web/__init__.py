"""The search page for initiators at `/`: one small page (HTML, CSS and JS served by the app),
and the cookie session it asks for introductions with."""
