"""Users' HTTP edge: parse, call one use case, choose the status.

No ``from __future__ import annotations`` here: flask-openapi3 reads the view
signatures at import time to find the request models.
"""

from flask import Response, current_app, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from flotilla.app import current_database
from flotilla.auth import SECURITY, current_caller, require_role, require_user
from flotilla.problems import ProblemModel
from users import service
from users.schemas import (
    JwksOut,
    LoginBody,
    RefreshBody,
    RegisterBody,
    TokenPairOut,
    UserOut,
    UserPage,
    UserPath,
    UserQuery,
)
from users.sessions import Sessions

auth_bp = APIBlueprint("auth", __name__, url_prefix="/auth",
                       abp_tags=[Tag(name="auth", description="Accounts, tokens and keys")],
                       abp_responses={422: ProblemModel})
users_bp = APIBlueprint("users", __name__, url_prefix="/users",
                        abp_tags=[Tag(name="users", description="Accounts")],
                        abp_responses={401: ProblemModel, 422: ProblemModel}, abp_security=SECURITY)


def _sessions() -> Sessions:
    sessions: Sessions = current_app.extensions["users_sessions"]
    return sessions


def _user(user: object, status: int = 200) -> Response:
    response = jsonify(UserOut.model_validate(user).model_dump(mode="json"))
    response.status_code = status
    return response


def _tokens(pair: object) -> Response:
    response = jsonify(TokenPairOut.model_validate(pair).model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@auth_bp.post("/register", responses={201: UserOut, 409: ProblemModel})
def register(body: RegisterBody) -> Response:
    """Create a customer account."""
    user = service.register(current_database(), _sessions().passwords, body.email, body.password,
                            body.name)
    response = _user(user, 201)
    response.headers["Location"] = f"{request.root_path}/users/{user.id}"
    return response


@auth_bp.post("/login", responses={200: TokenPairOut, 401: ProblemModel, 429: ProblemModel})
def login(body: LoginBody) -> Response:
    """Trade an email and password for an access token and a refresh token."""
    return _tokens(_sessions().login(body.email, body.password, request.remote_addr or "unknown"))


@auth_bp.post("/refresh", responses={200: TokenPairOut, 401: ProblemModel})
def refresh(body: RefreshBody) -> Response:
    """Spend a refresh token for a new pair; reusing a spent one revokes its whole family."""
    return _tokens(_sessions().refresh(body.refresh_token))


@auth_bp.post("/logout", responses={204: None, 401: ProblemModel}, security=SECURITY)
@require_user
def logout(body: RefreshBody) -> Response:
    """Revoke the refresh token (and its family)."""
    caller = current_caller()
    _sessions().logout(caller.user_id, body.refresh_token, caller.token_id)
    return Response(status=204)


@auth_bp.get("/jwks.json", responses={200: JwksOut})
def jwks() -> Response:
    """The public keys that verify access tokens: the current one and the previous one."""
    response = jsonify(service.jwks(current_database()))
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@auth_bp.get("/revocations.json")
def revocations() -> Response:
    """Accounts erased within an access token's lifetime (``user_id``, ``not_before`` epoch
    seconds): every process that verifies tokens polls this each second, with ``If-None-Match``."""
    settings = current_app.extensions["users_settings"]
    body = service.revocations(current_database(), settings.jwt_access_ttl + settings.jwt_leeway)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


@users_bp.get("/me", responses={200: UserOut, 404: ProblemModel})
@require_user
def get_me() -> Response:
    caller = current_caller()
    return _user(service.get_user(current_database(), caller, caller.user_id))


@users_bp.delete("/me", responses={204: None, 404: ProblemModel})
@require_user
def delete_me() -> Response:
    """Erase the caller's account: personal data gone, every token revoked."""
    service.delete_me(current_database(), current_caller())
    return Response(status=204)


@users_bp.get("", responses={200: UserPage, 403: ProblemModel})
@require_role("admin")
def list_users(query: UserQuery) -> Response:
    """Every live account, a page at a time (admins)."""
    page = service.list_users(current_database(), query.limit, query.cursor)
    body = UserPage(items=[UserOut.model_validate(u) for u in page.items], next_cursor=page.next_cursor)
    return jsonify(body.model_dump(mode="json"))


@users_bp.get("/<uuid:user_id>", responses={200: UserOut, 403: ProblemModel, 404: ProblemModel})
@require_user
def get_user(path: UserPath) -> Response:
    """One account (admins, or the account's owner)."""
    return _user(service.get_user(current_database(), current_caller(), path.user_id))
