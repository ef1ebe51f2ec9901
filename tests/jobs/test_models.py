"""Models in memory: list, switch between jobs, a failed load keeps the current model."""

from __future__ import annotations

from pathlib import Path

from sidecar.engine.musicgen import MusicgenEngine
from sidecar.jobs.models import ModelManager, engine_bytes
from sidecar.osc import addresses as A
from sidecar.osc.client import SidecarClient
from tests.support.server import running_sidecar


def models(client: SidecarClient) -> dict[str, tuple]:
    client.send(A.MODEL_LIST)
    address, args = client.receive(5) or ("", ())
    assert address == A.MODEL_LIST_REPLY and args[0] * 4 == len(args) - 1
    return {args[i]: args[i + 1 : i + 4] for i in range(1, len(args), 4)}


def test_switch_models_through_the_queue(tmp_path: Path) -> None:
    with (
        running_sidecar(tmp_path, "--no-warm-up") as server,
        SidecarClient(server.host, server.port) as client,
    ):
        listed = models(client)
        assert list(listed) == ["tiny"] and listed["tiny"][0] == "cpu"
        assert listed["tiny"][1] > 0 and listed["tiny"][2] == "current"
        client.send(A.MODEL_LOAD, "load-1", "tiny-melody")
        assert client.until_terminal("load-1", 60)[-1] == (A.DONE, ("load-1", 0))
        assert client.ping(5)[1:] == ("tiny-melody", "cpu", "ready")
        listed = models(client)
        assert listed["tiny-melody"][2] == "current"  # memory allows both here
        assert listed["tiny"][2] == "loaded"
        # A load that fails leaves the current model serving.
        missing = str(tmp_path / "no-such-model")
        client.send(A.MODEL_LOAD, "load-2", missing)
        last = client.until_terminal("load-2", 60)[-1]
        assert last[0] == A.ERROR and last[1][1] == "model_error"
        assert f"cannot load model '{missing}'" in last[1][2]
        client.send(A.GENERATE, "after", "prompt", "x", "seconds", 0.5)
        assert client.until_terminal("after", 60)[-1][0] == A.DONE
        assert models(client)["tiny-melody"][2] == "current"


def test_manager_evicts_when_memory_is_short(monkeypatch) -> None:
    import sidecar.jobs.models as m

    loads: list[str] = []

    def loader(name: str) -> MusicgenEngine:
        loads.append(name)
        return MusicgenEngine.load(name, "cpu")

    manager = ModelManager(loader)
    manager.add("tiny", loader("tiny"))
    size = engine_bytes(manager.current)
    monkeypatch.setattr(m, "available_memory_bytes", lambda device: size)  # room for one
    manager.switch("tiny-melody")
    assert [x.name for x in manager.listing()] == ["tiny-melody"]
    monkeypatch.setattr(m, "available_memory_bytes", lambda device: size * 100)
    manager.switch("tiny")
    assert sorted(x.name for x in manager.listing()) == ["tiny", "tiny-melody"]
    assert manager.current_name == "tiny" and loads == ["tiny", "tiny-melody", "tiny"]


def _param_bytes(engine: MusicgenEngine) -> int:
    tensors = [*engine.model.parameters(), *engine.model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def test_memory_counts_packed_weights_and_decode_buffers() -> None:
    """`/sidecar/model/list` reports what an engine holds: `fp32` packs a second copy of the
    decoder's step-time linears (the CPU default), and every mode keeps its KV cache."""
    from sidecar.engine.base import GenerationSpec
    from sidecar.engine.fast import FastMusicgenEngine

    stock = MusicgenEngine.load("tiny", "cpu")
    model_bytes = _param_bytes(stock)
    assert engine_bytes(stock) == model_bytes
    exact = FastMusicgenEngine(stock.model, stock.tokenizer, "tiny", "cpu", True, mode="exact")
    fp32 = FastMusicgenEngine(stock.model, stock.tokenizer, "tiny", "cpu", True, mode="fp32")
    _ = exact.weights, fp32.weights
    assert engine_bytes(exact) == model_bytes  # exact runs on the model's own tensors
    lm = stock.model.decoder
    step_linears = [h.weight for h in lm.lm_heads]
    for layer in lm.model.decoder.layers:
        sa, ca = layer.self_attn, layer.encoder_attn
        step_linears += [sa.q_proj.weight, sa.k_proj.weight, sa.v_proj.weight, sa.out_proj.weight]
        step_linears += [ca.q_proj.weight, ca.out_proj.weight, layer.fc1.weight, layer.fc2.weight]
    packed = sum(w.numel() * 4 for w in step_linears)
    assert engine_bytes(fp32) == model_bytes + packed

    exact.generate(GenerationSpec(duration_seconds=0.4, prompt="x", variations=2))
    config = lm.config
    rows, positions = 4, 256  # 2 variations x CFG; one position bucket
    head_dim = config.hidden_size // config.num_attention_heads
    cache = 2 * config.num_hidden_layers * rows * positions * config.num_attention_heads * head_dim
    assert engine_bytes(exact) == model_bytes + cache * 4


def test_a_switch_evicts_for_real_and_a_failed_one_serves_the_previous_model(
    monkeypatch, tmp_path: Path
) -> None:
    """With memory short, the old model is freed before the new one loads (nothing else in
    the server holds it); after a failed load the runner uses the manager's model."""
    import asyncio
    import gc
    import weakref

    import sidecar.jobs.models as m
    from sidecar.osc.replier import OscReplier
    from sidecar.server import Server, ServerConfig

    monkeypatch.setattr(m, "available_memory_bytes", lambda device: 0)  # room for none
    server = Server(ServerConfig(model="tiny", output_dir=tmp_path / "out", warm_up=False))
    server._replier = OscReplier(asyncio.new_event_loop())
    server._load()
    try:
        assert server.runner is not None
        old = weakref.ref(server.runner.engine)
        real_loader = server.models._loader
        alive_while_loading: list[bool] = []

        def loader(name: str):
            gc.collect()
            alive_while_loading.append(old() is not None)
            return real_loader(name)

        server.models._loader = loader
        server.switch_model("tiny-melody")
        assert alive_while_loading == [False]
        assert server.runner.engine is server.models.current
        assert server.runner.engine.info.name == "tiny-melody"

        melody = weakref.ref(server.runner.engine)
        missing = str(tmp_path / "no-such-model")
        try:
            server.switch_model(missing)
        except Exception as error:
            assert "cannot load model" in str(error)
        else:
            raise AssertionError("the load of a missing model did not fail")
        gc.collect()
        # The previous model was evicted for the failed load and loaded again: the runner
        # serves with that one, and the evicted object is gone.
        assert server.models.current_name == "tiny-melody"
        assert server.runner.engine is server.models.current
        assert melody() is None
        assert server.state.model == "tiny-melody"
    finally:
        server.queue.drain()  # closes the queue: the worker ends
        if server.worker is not None:
            server.worker.join(30)


def test_a_melody_model_serves_with_warm_up_and_takes_a_clip_as_its_melody(
    tmp_path: Path, clip: Path
) -> None:
    """musicgen-melody cannot continue audio nor run unconditionally in transformers: the
    server warms it up with a melody, a `continue` conditions on the clip's chroma, and a
    request without text runs on the empty text; all real generate calls."""
    with (
        running_sidecar(tmp_path, "--model", "tiny-melody") as server,  # warm-up on
        SidecarClient(server.host, server.port) as client,
    ):
        assert client.ping(5)[1:] == ("tiny-melody", "cpu", "ready")
        client.send(A.CONTINUE, "m1", "clip", str(clip), "bpm", 120.0, "bars", 1)
        replies = client.until_terminal("m1", 120)
        assert replies[-1] == (A.DONE, ("m1", 1)), replies
        stem = next(args for address, args in replies if address == A.STEM)
        assert Path(stem[2]).is_file()
        client.send(A.GENERATE, "m2", "seconds", 0.5)
        assert client.until_terminal("m2", 120)[-1] == (A.DONE, ("m2", 1))


def test_requests_accepted_while_the_first_model_loads_are_answered_if_it_fails(
    tmp_path: Path,
) -> None:
    """The server takes requests while it loads; when that load fails they each get their
    one terminal reply (model_error) over UDP before the server exits 1."""
    import asyncio
    import socket

    from sidecar.jobs.queue import Job
    from sidecar.osc.schema import GenerateRequest
    from sidecar.server import Server, ServerConfig
    from tests.support.server import free_udp_port

    missing = str(tmp_path / "no-such-model")
    config = ServerConfig(
        model=missing, output_dir=tmp_path / "out", port=free_udp_port(), warm_up=False
    )
    server = Server(config)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daw:
        daw.bind(("127.0.0.1", 0))
        daw.settimeout(10)
        # What the receiver queues for a request that arrives during the load.
        early = Job(GenerateRequest("early", prompt="x"), daw.getsockname())
        server.queue.submit(early)
        assert asyncio.run(server.run()) == 1
        from pythonosc.osc_message import OscMessage

        reply = OscMessage(daw.recv(65536))
    assert reply.address == A.ERROR
    assert reply.params[:2] == ["early", "model_error"]
    assert f"cannot load model '{missing}'" in reply.params[2]
