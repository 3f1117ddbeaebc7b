"""Registering checkpoints: `manage.py register_model` and the TrainedModel admin load the file
and take every fact from it; a missing, unreadable or mismatched file is refused and stores nothing."""

import pytest
import torch
from django.core.management import CommandError, call_command

from retrieval.checkpoint import load_checkpoint, save_checkpoint
from retrieval.inference import file_sha256, init_checkpoint
from retrieval.models import TrainedModel

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A checkpoint as training leaves it: weights plus a best validation epoch."""
    torch.set_num_threads(1)
    path = init_checkpoint(tmp_path_factory.mktemp("ckpt") / "triplet2-demo.pt", variant="triplet2")
    state = load_checkpoint(path)
    state.update(epoch=4, best={"epoch": 3, "acc_rank": 0.4125, "median_rank": 2.0})
    save_checkpoint(path, {k: v for k, v in state.items() if k not in ("format_version", "kind")})
    return path


def test_register_model_fills_every_fact_from_the_checkpoint(trained, capsys):
    call_command("register_model", str(trained))
    row = TrainedModel.objects.get()
    assert (row.name, row.variant, row.preset) == ("triplet2-demo", "triplet2", "demo")
    assert row.checkpoint == str(trained.resolve())
    assert row.checkpoint_sha256 == file_sha256(trained)
    assert row.config["variant"] == "triplet2" and row.config["model"]["embed_dim"] == 64
    assert row.metrics == {"valid": {"epoch": 3, "acc_rank": 0.4125, "median_rank": 2.0}, "epochs": 4}
    out = capsys.readouterr().out
    assert "registered TrainedModel 'triplet2-demo': triplet2, preset demo" in out
    assert "acc_rank=0.412" in out


def test_registering_again_under_a_name_updates_that_row(trained, tmp_path):
    call_command("register_model", str(trained), "--name", "baseline")
    other = init_checkpoint(tmp_path / "p.pt", variant="proposed", seed=1)
    call_command("register_model", str(other), "--name", "baseline")
    row = TrainedModel.objects.get()
    assert (row.name, row.variant, row.checkpoint_sha256) == ("baseline", "proposed", file_sha256(other))
    assert row.metrics == {"valid": None, "epochs": 0}


def test_missing_unreadable_and_mismatched_checkpoints_are_refused(trained, tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    state = load_checkpoint(trained)
    state["model"].pop(next(iter(state["model"])))
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    for path, message in (
        (tmp_path / "nope.pt", "nope.pt: checkpoint file not found"),
        (junk, "junk.pt: not a readable checkpoint"),
        (broken, "broken.pt: the weights do not load"),
    ):
        with pytest.raises(CommandError, match=message):
            call_command("register_model", str(path))
    assert not TrainedModel.objects.exists()


def test_the_admin_form_refuses_a_missing_file_and_fills_the_rest_from_a_real_one(
    client, researcher, trained
):
    client.force_login(researcher)
    url = "/admin/retrieval/trainedmodel/add/"
    refused = client.post(url, {"name": "m", "checkpoint": "/no/such/model.pt"})
    assert refused.status_code == 200
    assert "/no/such/model.pt: checkpoint file not found" in refused.content.decode()
    assert not TrainedModel.objects.exists()
    # Typed-in facts are not fields of the form: they come from the file.
    done = client.post(url, {"name": "m", "checkpoint": str(trained), "variant": "proposed"})
    assert done.status_code == 302
    row = TrainedModel.objects.get()
    assert (row.variant, row.preset, row.checkpoint_sha256) == ("triplet2", "demo", file_sha256(trained))
    assert row.metrics["valid"]["acc_rank"] == 0.4125
    listing = client.get("/admin/retrieval/trainedmodel/").content.decode()
    assert "0.412" in listing and file_sha256(trained)[:12] in listing


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_researcher_registers_a_checkpoint_in_the_browser(live_server, new_page, researcher, trained):
    from playwright.sync_api import expect

    from tests.evalsite.experiments.test_browser_researcher import login, no_horizontal_scroll

    page = new_page(viewport={"width": 1280, "height": 900})
    login(page, live_server.url)
    page.goto(f"{live_server.url}/admin/retrieval/trainedmodel/")
    page.get_by_role("link", name="Add trained model").click()
    page.fill("#id_name", "triplet2 demo")
    page.fill("#id_checkpoint", str(trained.with_name("missing.pt")))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".errorlist")).to_contain_text("missing.pt: checkpoint file not found")
    no_horizontal_scroll(page, "trainedmodel-refused")
    page.fill("#id_checkpoint", str(trained))
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#result_list")).to_contain_text("Triplet 2")
    expect(page.locator("#result_list")).to_contain_text("0.412")
    no_horizontal_scroll(page, "trainedmodel-list")
    assert TrainedModel.objects.get().checkpoint_sha256 == file_sha256(trained)
    page.locator("#result_list").get_by_role("link", name="triplet2 demo").click()
    expect(page.locator(".field-checkpoint_sha256")).to_contain_text(file_sha256(trained))
