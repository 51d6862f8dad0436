import json
import os
import subprocess
import sys

import jsonschema
import numpy as np
import pytest

from emofuse.cli import main
from emofuse.results import read_jsonl, result_schema
from tests.conftest import RAVDESS_VIDEO, need, tone, write_video, write_wav


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "emofuse.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_help_reads_well():
    done = run_cli("--help")
    assert done.returncode == 0 and "analyze" in done.stdout and "evaluate" in done.stdout
    for command in ("analyze", "evaluate", "train", "app"):
        assert run_cli(command, "--help").returncode == 0


@pytest.mark.parametrize("name,content", [("empty.wav", b""), ("notes.mp4", b"plain text\n" * 20),
                                          ("zero.png", b""), ("cut.wav", b"RIFF\x24\x00\x00\x00WAVEfmt ")])
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    done = run_cli("analyze", path, "-q")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emofuse: error:") and name in lines[0]


@pytest.mark.parametrize("option,value", [("--speakers", "0"), ("--fps", "0"), ("--detect-every", "0")])
def test_a_setting_out_of_range_gives_one_line_and_nonzero_exit(tmp_path, option, value):
    done = run_cli("analyze", write_wav(tmp_path / "voice.wav", tone(1.0)), option, value, "-q")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("emofuse: error:") and option.strip("-").split("-")[0] in lines[0]


def test_folder_without_media_and_missing_file(tmp_path):
    (tmp_path / "readme.txt").write_text("hello")
    done = run_cli("analyze", tmp_path)
    assert done.returncode != 0 and "no image, audio or video" in done.stderr and "Traceback" not in done.stderr
    done = run_cli("analyze", tmp_path / "nope.wav")
    assert done.returncode != 0 and "no such file" in done.stderr


def test_batch_keeps_good_results_when_one_file_is_bad(tmp_path):
    (tmp_path / "in").mkdir()
    good = write_wav(tmp_path / "in" / "a.wav", tone(1.5))
    (tmp_path / "in" / "b.wav").write_bytes(b"")
    out = tmp_path / "out.jsonl"
    code = main(["analyze", str(tmp_path / "in"), "--jsonl", str(out), "-q"])
    assert code == 1
    rows = read_jsonl(out)
    bad = str(tmp_path / "in" / "b.wav")
    assert sorted((r["input"], "error" in r) for r in rows) == [(str(good), False), (bad, True)]
    assert "b.wav: file is empty" in next(r["error"] for r in rows if "error" in r)
    # a second run resumes: neither the finished file nor the failed one is analysed again
    assert main(["analyze", str(tmp_path / "in"), "--jsonl", str(out), "-q"]) == 0
    assert read_jsonl(out) == rows
    # --retry-errors runs the failed one again (still empty: still one error row, not two)
    assert main(["analyze", str(tmp_path / "in"), "--jsonl", str(out), "--retry-errors", "-q"]) == 1
    assert sorted(r["input"] for r in read_jsonl(out)) == sorted(r["input"] for r in rows)


@pytest.mark.parametrize("option", ["--json", "--jsonl", "--csv", "--report"])
def test_unwritable_outputs_are_refused_before_analysis(tmp_path, option):
    clip = write_wav(tmp_path / "a.wav", tone(1.0))
    done = run_cli("analyze", clip, option, tmp_path, "-q")  # a folder, not a file
    assert done.returncode == 2 and "is a folder" in done.stderr and "Traceback" not in done.stderr
    blocker = tmp_path / "file"
    blocker.write_text("x")
    done = run_cli("analyze", clip, option, blocker / "out.json", "-q")  # its 'folder' is a file
    assert done.returncode == 2 and "cannot write here" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.wav", "file"]  # nothing half-written left behind


def test_resume_knows_a_file_by_its_resolved_path_and_json_holds_every_run(tmp_path, monkeypatch):
    (tmp_path / "in").mkdir()
    first = write_wav(tmp_path / "in" / "a.wav", tone(1.5))
    second = write_wav(tmp_path / "in" / "b.wav", tone(1.2, freq=330))
    out, whole = tmp_path / "out.jsonl", tmp_path / "all.json"
    monkeypatch.chdir(tmp_path)
    assert main(["analyze", "in/a.wav", "--jsonl", str(out), "-q"]) == 0  # relative path
    assert main(["analyze", str(tmp_path / "in"), "--jsonl", str(out), "--json", str(whole), "-q"]) == 0
    assert [r["input"] for r in read_jsonl(out)] == ["in/a.wav", str(second)]  # a.wav was not analysed twice
    assert [r["input"] for r in json.loads(whole.read_text())] == ["in/a.wav", str(second)]
    assert first.exists()


def test_app_listens_on_this_machine_only_by_default():
    from emofuse.cli import build_parser

    args = build_parser().parse_args(["app"])
    assert (args.host, args.port, args.max_upload_mb) == ("127.0.0.1", 8501, 200)
    assert all(action.help for action in build_parser()._subparsers._group_actions[0].choices["app"]._actions)


def test_upload_limit_follows_the_app_option(monkeypatch):
    import importlib

    import emofuse.app.uploads as uploads
    from emofuse.errors import InputError

    data = b"x" * (3 * 1024 * 1024 // 2)  # 1.5 MB
    try:
        monkeypatch.setenv("EMOFUSE_MAX_UPLOAD_MB", "1")
        with pytest.raises(InputError, match="larger than 1 MB"), importlib.reload(uploads).saved_upload("a.wav", data):
            pass
        monkeypatch.setenv("EMOFUSE_MAX_UPLOAD_MB", "2")
        with importlib.reload(uploads).saved_upload("a.wav", data) as path:
            assert path.stat().st_size == len(data)
    finally:
        monkeypatch.delenv("EMOFUSE_MAX_UPLOAD_MB")
        importlib.reload(uploads)


def test_terminal_line_says_what_is_missing_in_words(tmp_path, capsys):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(32_000, np.float32))
    assert main(["analyze", str(silent)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line == f"{silent}: nothing to read (no voice, no face)"
    speech = write_wav(tmp_path / "tone.wav", tone(2.0))
    assert main(["analyze", str(speech)]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith(f"{speech}: ") and "voice " in line and "no face" in line and "%" in line


def test_resume_repairs_a_torn_last_line(tmp_path):
    """A run killed mid-write leaves half a record: the next run cuts it off and analyses that input again."""
    (tmp_path / "in").mkdir()
    first = write_wav(tmp_path / "in" / "a.wav", tone(1.5))
    second = write_wav(tmp_path / "in" / "b.wav", tone(1.2, freq=330))
    out = tmp_path / "out.jsonl"
    assert main(["analyze", str(first), "--jsonl", str(out), "-q"]) == 0
    out.write_text(out.read_text() + '{"input": "' + str(second) + '", "kind": "au')  # torn record of b.wav
    assert main(["analyze", str(tmp_path / "in"), "--jsonl", str(out), "-q"]) == 0
    lines = out.read_text().splitlines()
    assert [json.loads(line)["input"] for line in lines] == [str(first), str(second)]


def test_all_outputs_from_a_real_video(tmp_path):
    clip = need(RAVDESS_VIDEO) / "01-01-06-01-01-01-05.mp4"
    out = {k: tmp_path / f"r.{k}" for k in ("json", "csv", "html")}
    assert main(["analyze", str(clip), "--json", str(out["json"]), "--csv", str(out["csv"]),
                 "--report", str(out["html"]), "-q"]) == 0
    result = json.loads(out["json"].read_text())
    jsonschema.validate(result, result_schema())
    assert result["kind"] == "video" and result["fused"]["segments"]
    header, *rows = out["csv"].read_text().splitlines()
    assert header.startswith("input,modality,track_id,start,end,label,sources")
    assert {r.split(",")[1] for r in rows} == {"speech", "face", "fused"}
    html = out["html"].read_text()
    assert "data:image/png;base64," in html and "Faces" in html


def test_pair_and_annotate(tmp_path, face_frame, speech_wav):
    import cv2

    photo = tmp_path / "p.png"
    cv2.imwrite(str(photo), cv2.cvtColor(face_frame, cv2.COLOR_RGB2BGR))
    assert main(["analyze", str(photo), "--annotate", str(tmp_path / "ann.png"), "-q"]) == 0
    annotated = cv2.imread(str(tmp_path / "ann.png"))
    assert annotated.shape == face_frame.shape and not np.array_equal(annotated[:, :, ::-1], face_frame)
    assert main(["analyze", "--audio", str(speech_wav), "--image", str(photo), "--json", str(tmp_path / "p.json"),
                 "-q"]) == 0
    assert json.loads((tmp_path / "p.json").read_text())["fused"]["sources"] == ["speech", "face"]


def test_generated_video_through_cli(tmp_path, face_frame):
    frames = [face_frame] * 15
    clip = write_video(tmp_path / "talk.mp4", frames, fps=5, audio=tone(3.0))
    done = run_cli("analyze", clip, "--json", tmp_path / "t.json")
    assert done.returncode == 0, done.stderr
    assert "talk.mp4" in done.stdout
    result = json.loads((tmp_path / "t.json").read_text())
    assert len(result["face"]["faces"]) == 1 and result["fused"]["missing"] == []


def test_the_app_contacts_nothing_outside_even_on_every_interface(tmp_path):
    """Streamlit looks up a public IP for its banner when listening on 0.0.0.0; emofuse app must not.

    Every HTTP(S) request the server makes goes to a local 'proxy' socket here, which counts connections.
    """
    import socket
    import subprocess
    import sys
    import threading
    import time
    import urllib.request

    proxy = socket.socket()
    proxy.bind(("127.0.0.1", 0))
    proxy.listen(8)
    proxy.settimeout(0.2)
    contacts, stop = [], threading.Event()

    def count() -> None:
        while not stop.is_set():
            try:
                contacts.append(proxy.accept()[0])
            except OSError:
                continue

    threading.Thread(target=count, daemon=True).start()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"http://127.0.0.1:{proxy.getsockname()[1]}"
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("no_proxy", "http_proxy", "https_proxy")}
    env.update(HTTP_PROXY=address, HTTPS_PROXY=address, http_proxy=address, https_proxy=address)
    server = subprocess.Popen([sys.executable, "-m", "emofuse.cli", "app", "--host", "0.0.0.0", "--port", str(port)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if opener.open(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("the app did not start")
        time.sleep(3)  # the banner (and any lookup for it) comes right after the server is up
    finally:
        server.terminate()
        output = server.communicate(timeout=20)[0]
        stop.set()
    assert "Network URL" in output and "External URL" not in output
    assert contacts == [], "the app made an outside request"


def test_annotate_video_draws_every_frame_and_keeps_the_audio(tmp_path):
    import av

    clip = need(RAVDESS_VIDEO) / "01-01-06-02-02-01-05.mp4"
    out, result = tmp_path / "boxed.mp4", tmp_path / "r.json"
    assert main(["analyze", str(clip), "--annotate-video", str(out), "--json", str(result), "-q"]) == 0
    with av.open(str(clip)) as source, av.open(str(out)) as written:
        frames_in = sum(1 for _ in source.decode(video=0))
        frames_out = sum(1 for _ in written.decode(video=0))
        assert written.streams.audio and frames_out == frames_in
    jsonschema.validate(json.loads(result.read_text()), result_schema())
    from emofuse.media import iter_video_frames

    original = next(f for t, f in iter_video_frames(clip) if t > 1.5)
    drawn = next(f for t, f in iter_video_frames(out) if t > 1.5)
    assert np.abs(drawn.astype(int) - original[:drawn.shape[0], :drawn.shape[1]].astype(int)).max() > 100  # a box
    assert main(["analyze", str(tmp_path / "r.json"), "--annotate-video", str(out), "-q"]) == 2  # not a video


def test_the_words_a_new_user_meets(tmp_path):
    """One line for a missing file (no batch talk); an output named as a folder that does not exist yet is refused;
    --annotate-video refuses a suffix it would not write; enrol on 1.8 s of speech says "1 window" and warns."""
    done = run_cli("analyze", tmp_path / "missing.wav")
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        f"emofuse: error: {tmp_path / 'missing.wav'}: no such file"]
    clip = write_wav(tmp_path / "a.wav", tone(1.0))
    done = run_cli("analyze", clip, "--json", f"{tmp_path / 'new'}/", "-q")
    assert done.returncode == 2 and "is a folder" in done.stderr and not (tmp_path / "new").exists()
    video = need(RAVDESS_VIDEO) / "01-01-03-01-01-02-05.mp4"
    done = run_cli("analyze", video, "--annotate-video", tmp_path / "out.avi")
    assert done.returncode == 2 and "name it .mp4" in done.stderr and not (tmp_path / "out.avi").exists()
    from emofuse.media import load_audio

    short = write_wav(tmp_path / "short.wav", load_audio(need(RAVDESS_VIDEO) / "01-01-04-02-02-01-05.mp4"))
    done = run_cli("enrol", "--voice", short, "--out", tmp_path / "me.json")
    assert done.returncode == 0 and "(1 window)" in done.stdout and "warning" in done.stderr
    done = run_cli("enrol", "--voice", tmp_path / "missing.wav", "--out", tmp_path / "me.json")
    assert done.stderr.count("missing.wav") == 1
