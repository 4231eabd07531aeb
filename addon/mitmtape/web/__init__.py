"""The web page at `/` of the API's server: sign-in, the page itself and its static files.

The page is a shell rendered once (nothing from traffic is in it); its script reads the JSON
API with the sign-in cookie and puts every value on the page as text.
"""

from mitmtape.web.routes import SIGN_IN_QUERY, WEB_ROUTES

__all__ = ["SIGN_IN_QUERY", "WEB_ROUTES"]
