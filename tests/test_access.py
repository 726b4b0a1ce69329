"""The access service's rules without a server: ids, owners, shares, recent lists, the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from studio.services.access import EDITOR, OWNER, VIEWER, Access, AccessDenied
from studio.services.workspace import Workspace
from studio.storage import Project, ProjectError

from conftest import small_board


def team(home: Path) -> Access:
    return Access(Workspace(home, sample=None), shared=True, users=["alice", "bob", "carol"])


def test_rights_survive_a_restart_and_a_share_can_be_taken_back(tmp_path: Path) -> None:
    access = team(tmp_path)
    alice, bob, carol = (access.who(name, None) for name in ("alice", "bob", "carol"))
    film = access.create(alice, "Film", small_board())
    assert film.role == OWNER and access.resolve(film.id, alice, EDITOR).project.root == film.project.root
    access.share(alice, film.id, "bob", "editor")
    access.share(alice, film.id, "carol", "viewer")

    again = team(tmp_path)  # a restart reads the same registry
    assert again.resolve(film.id, bob, EDITOR).role == EDITOR
    assert again.resolve(film.id, carol, VIEWER).role == VIEWER
    with pytest.raises(AccessDenied, match="viewer by alice"):
        again.resolve(film.id, carol, EDITOR)
    with pytest.raises(AccessDenied, match="only its owner"):
        again.share(bob, film.id, "carol", "editor")
    again.share(alice, film.id, "bob", "none")
    with pytest.raises(AccessDenied, match="no project"):
        again.resolve(film.id, bob)
    assert [row.id for row in again.projects(bob)] == []
    assert [row.shares for row in again.projects(alice)] == [(("carol", "viewer"),)]


def test_a_team_server_takes_no_paths_and_tells_nothing_about_others(tmp_path: Path) -> None:
    access = team(tmp_path)
    alice, bob = access.who("alice", None), access.who("bob", None)
    film = access.create(alice, "Film")
    answers = set()
    for ref in (film.id, "p0000000000000000"):
        with pytest.raises(AccessDenied) as refused:
            access.resolve(ref, bob)
        answers.add(str(refused.value).replace(ref, "ID"))
    assert len(answers) == 1  # another user's id and an unknown id read the same
    for ref in (str(film.project.root), "projects/film", "../film", "", None, 42, "p" * 5000):
        with pytest.raises(AccessDenied) as refused:
            access.resolve(ref, alice)
        assert len(str(refused.value)) < 300
    with pytest.raises(AccessDenied, match="needs a login"):
        access.who(None, "some-session")


def test_titles_are_unique_per_user_not_across_users(tmp_path: Path) -> None:
    access = team(tmp_path)
    alice, bob = access.who("alice", None), access.who("bob", None)
    access.create(alice, "Storm")
    with pytest.raises(ProjectError, match="already exists in your projects"):
        access.create(alice, "storm")
    theirs = access.create(bob, "Storm")  # bob is never told alice has one
    assert theirs.project.root.name == "storm-2"
    assert [row.title for row in access.projects(bob)] == ["Storm"]


def test_recent_lists_are_per_user_and_sharing_names_real_logins(tmp_path: Path) -> None:
    access = team(tmp_path)
    alice, bob = access.who("alice", None), access.who("bob", None)
    first, second = access.create(alice, "One"), access.create(alice, "Two")
    access.open(first.id, alice)
    assert access.recent(alice) == [first.id, second.id] and access.recent(bob) == []
    with pytest.raises(AccessDenied, match="no login 'mallory'"):
        access.share(alice, first.id, "mallory", "viewer")
    with pytest.raises(AccessDenied, match="owns this project"):
        access.share(alice, first.id, "alice", "viewer")
    with pytest.raises(AccessDenied, match="role"):
        access.share(alice, first.id, "bob", "owner")


def test_a_local_app_opens_any_folder_and_gives_it_an_id(tmp_path: Path) -> None:
    access = Access(Workspace(tmp_path / "home", sample=None))
    me = access.who(None, "browser-1")
    outside = Project.create(tmp_path / "elsewhere" / "film", small_board())
    opened = access.resolve(str(outside.root), me, EDITOR)
    assert opened.role == OWNER and access.resolve(opened.id, me).project.root == outside.root
    assert access.resolve(str(outside.root), me).id == opened.id  # the same folder, the same id
    with pytest.raises(ProjectError, match="not a Previz Studio project"):
        access.resolve(str(tmp_path), me)


def test_a_damaged_registry_is_said_not_silently_emptied(tmp_path: Path) -> None:
    access = team(tmp_path)
    access.create(access.who("alice", None), "Film")
    (tmp_path / "workspace.json").write_text("{not json")
    with pytest.raises(ProjectError, match="workspace.json.*unreadable"):
        team(tmp_path)
    (tmp_path / "workspace.json").write_text(json.dumps({"projects": {"../x": {"folder": "/", "owner": "x"}}}))
    assert team(tmp_path).projects(team(tmp_path).who("x", None)) == []
