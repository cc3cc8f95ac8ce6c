"""Users' HTTP edge: parse, call one use case, choose the status.

No ``from __future__ import annotations`` here: flask-openapi3 reads the view
signatures at import time to find the request models.
"""

from flask import Response, jsonify, request
from flask_openapi3 import APIBlueprint, Tag

from flotilla.auth import SECURITY, current_caller, require_role, require_user
from flotilla.openapi import extra
from flotilla.problems import ProblemModel
from users import service
from users.bootstrap import Users, users_of
from users.schemas import (
    JwksOut,
    LoginBody,
    RefreshBody,
    RegisterBody,
    RevocationsOut,
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


def _users() -> Users:
    return users_of()


def _sessions() -> Sessions:
    return users_of().sessions


def _user(user: object, status: int = 200) -> Response:
    response = jsonify(UserOut.model_validate(user).model_dump(mode="json"))
    response.status_code = status
    return response


def _tokens(pair: object) -> Response:
    response = jsonify(TokenPairOut.model_validate(pair).model_dump(mode="json"))
    response.headers["Cache-Control"] = "no-store"
    return response


@auth_bp.post("/register", responses={201: UserOut, 409: ProblemModel},
              openapi_extensions=extra(headers={201: ["Location"]}))
def register(body: RegisterBody) -> Response:
    """Create a customer account.

    The email is stored in lower case and must be unused (409 otherwise); the password is
    10-128 characters. Log in afterwards to get tokens.
    """
    user = service.register(_users().uow, _users().passwords, body.email, body.password,
                            body.name)
    response = _user(user, 201)
    response.headers["Location"] = f"{request.root_path}/users/{user.id}"
    return response


@auth_bp.post("/login", responses={200: TokenPairOut, 401: ProblemModel, 429: ProblemModel},
              openapi_extensions=extra(headers={200: ["Cache-Control"]}))
def login(body: LoginBody) -> Response:
    """Trade an email and password for an access token and a refresh token.

    A wrong email or password is 401 (the same answer for both); too many failures for an
    account or an address are 429 with ``Retry-After``.
    """
    return _tokens(_sessions().login(body.email, body.password, request.remote_addr or "unknown"))


@auth_bp.post("/refresh", responses={200: TokenPairOut, 401: ProblemModel},
              openapi_extensions=extra(headers={200: ["Cache-Control"]}))
def refresh(body: RefreshBody) -> Response:
    """Spend a refresh token for a new pair.

    Each refresh token works once: reusing a spent one revokes its whole family (401).
    """
    return _tokens(_sessions().refresh(body.refresh_token))


@auth_bp.post("/logout", responses={204: None, 401: ProblemModel}, security=SECURITY)
@require_user
def logout(body: RefreshBody) -> Response:
    """Log out.

    Revokes the refresh token (and its family) and the access token that made the call.
    """
    caller = current_caller()
    _sessions().logout(caller.user_id, body.refresh_token, caller.token_id)
    return Response(status=204)


@auth_bp.get("/jwks.json", responses={200: JwksOut},
             openapi_extensions=extra(headers={200: ["Cache-Control"]}))
def jwks() -> Response:
    """The public keys that verify access tokens.

    The current signing key and the previous one (tokens it signed are still alive).
    """
    response = jsonify(service.jwks(_users().uow))
    response.headers["Cache-Control"] = "public, max-age=60"
    return response


@auth_bp.get("/revocations.json", responses={200: RevocationsOut, 304: None},
             openapi_extensions=extra(headers={200: ["ETag", "Cache-Control"], 304: ["ETag"]},
                                      reads=["If-None-Match"]))
def revocations() -> Response:
    """Identities revoked within an access token's lifetime.

    Accounts erased (``user_id``, ``not_before`` epoch seconds), logged-out access tokens and
    revoked sessions: every process that verifies tokens polls this each second, with
    ``If-None-Match`` (304 when unchanged). Internal: the gateway does not publish it.
    """
    settings = _users().settings
    body = service.revocations(_users().uow, settings.jwt_access_ttl + settings.jwt_leeway)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-cache"
    response.add_etag()
    response.make_conditional(request)
    return response


@users_bp.get("/me", responses={200: UserOut, 404: ProblemModel})
@require_user
def get_me() -> Response:
    """The caller's own account.

    404 when the account was erased after the token was issued.
    """
    """The caller's own account.

    404 when the account was erased after the token was issued.
    """
    caller = current_caller()
    return _user(service.get_user(_users().uow, caller, caller.user_id))


@users_bp.delete("/me", responses={204: None, 404: ProblemModel})
@require_user
def delete_me() -> Response:
    """Erase the caller's account.

    Personal data is removed at once and every token of the account stops working.
    """
    service.delete_me(_users().uow, current_caller())
    return Response(status=204)


@users_bp.get("", responses={200: UserPage, 403: ProblemModel})
@require_role("admin")
def list_users(query: UserQuery) -> Response:
    """List accounts (admins).

    Every live account in id order, a page at a time: pass ``next_cursor`` as ``cursor``.
    """
    page = service.list_users(_users().uow, query.limit, query.cursor)
    body = UserPage(items=[UserOut.model_validate(u) for u in page.items], next_cursor=page.next_cursor)
    return jsonify(body.model_dump(mode="json"))


@users_bp.get("/<uuid:user_id>", responses={200: UserOut, 403: ProblemModel, 404: ProblemModel})
@require_user
def get_user(path: UserPath) -> Response:
    """One account.

    Admins see any account; a customer only their own (403 for another's).
    """
    return _user(service.get_user(_users().uow, current_caller(), path.user_id))
