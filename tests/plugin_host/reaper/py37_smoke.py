"""Run under REAPER-era Python (3.7): Continue then Re-roll, a stub reaper_python, a UDP stub."""

# Usage: python3.7 py37_smoke.py REPOSITORY_ROOT. Stdlib only, 3.7 syntax; exits non-zero on
# an unexpected result.
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import types
import wave

ROOT = sys.argv[1]
sys.path.insert(0, ROOT)

from plugin_host.ableton.osc_codec import decode_packet, encode_message  # noqa: E402

PCM = "(PCM_source*)"


def stub_reaper(wav_path, state):
    """The ReaScript functions the actions call: a 4-s item at 2 s, 120 bpm 4/4."""
    api = types.ModuleType("reaper_python")
    counter = [0]

    def add_item(track):
        counter[0] += 1
        state["values"][f"item{counter[0]}"] = {"D_POSITION": 0.0, "D_LENGTH": 1.0}
        return f"item{counter[0]}"

    def set_value(pointer, name, value, *rest):
        state["values"].setdefault(pointer, {})[name] = value
        return True

    api.RPR_CountSelectedMediaItems = lambda proj: 1
    api.RPR_GetSelectedMediaItem = lambda proj, index: "item0"
    api.RPR_GetActiveTake = lambda item: item + "-take"
    api.RPR_GetMediaItem_Track = lambda item: "track0"
    api.RPR_GetMediaItemTake_Source = lambda take: PCM + wav_path
    api.RPR_GetMediaSourceFileName = lambda src, buf, size: (src, src[len(PCM) :], size)
    api.RPR_GetMediaSourceLength = lambda src, is_qn: (4.0, src, is_qn)
    api.RPR_GetMediaSourceParent = lambda src: "(PCM_source*)0x0000000000000000"
    api.RPR_GetPlayState = lambda: 0
    project = "(ReaProject*)0x00000000000A0001"
    api.RPR_EnumProjects = lambda idx, name, size: (project, idx, "", size)
    api.RPR_GetMediaTrackInfo_Value = lambda track, name: 1.0
    api.RPR_SetItemStateChunk = lambda item, chunk, undo: "FILE" in chunk
    api.RPR_DeleteTrackMediaItem = lambda track, item: True
    api.RPR_GetResourcePath = lambda: ""

    def get_value(item, name):
        if item == "item0":
            return {"D_POSITION": 2.0, "D_LENGTH": 4.0, "B_LOOPSRC": 0.0}[name]
        return state["values"][item][name]

    def track_items(track):
        added = [f"item{n}" for n in range(1, counter[0] + 1)]
        return sorted(["item0", *added], key=lambda item: get_value(item, "D_POSITION"))

    def time_to_beats(proj, t, measures, cml, fullbeats, cdenom):
        full = t / 0.5  # 120 bpm 4/4 from 0 s
        measure = int(full // 4)
        return (full - 4 * measure, proj, t, measure, 4, full, 4)

    api.RPR_GetMediaItemInfo_Value = get_value
    api.RPR_CountTrackMediaItems = lambda track: len(track_items(track))
    api.RPR_GetTrackMediaItem = lambda track, index: track_items(track)[index]
    api.RPR_TimeMap2_timeToBeats = time_to_beats
    api.RPR_TimeMap2_beatsToTime = lambda proj, b, m: ((4 * m + b) * 0.5, proj, b, m)
    api.RPR_TimeMap2_timeToQN = lambda proj, t: t / 0.5
    api.RPR_TimeMap2_QNToTime = lambda proj, qn: qn * 0.5
    api.RPR_SetMediaItemTakeInfo_Value = set_value
    api.RPR_SetMediaItemInfo_Value = set_value
    api.RPR_GetMediaItemTakeInfo_Value = lambda take, name: {"D_STARTOFFS": 0, "D_PLAYRATE": 1}[
        name
    ]
    api.RPR_GetSetMediaItemTakeInfo_String = set_value
    api.RPR_GetTakeNumStretchMarkers = lambda take: 0
    api.RPR_TimeMap_GetTimeSigAtTime = lambda proj, t, a, b, c: (proj, t, 4, 4, 120.0)
    api.RPR_AddMediaItemToTrack = add_item
    api.RPR_UpdateArrange = lambda: None
    api.RPR_Undo_BeginBlock = lambda: None
    api.RPR_Undo_EndBlock = lambda text, flags: None
    api.RPR_ShowConsoleMsg = state["console"].append
    api.RPR_GetExtState = lambda section, key: state["ext"].get((section, key), "")
    api.RPR_SetExtState = lambda section, key, value, persist: state["ext"].update(
        {(section, key): value}
    )
    return api


def main():
    folder = os.path.join(tempfile.mkdtemp(), "Scripts", "reaper")
    os.makedirs(folder)
    wav_path = os.path.join(folder, "prompt.wav")
    with wave.open(wav_path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\0\0" * 32000)
    stub = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stub.bind(("127.0.0.1", 0))
    stub.settimeout(5)
    for name in ("sidecar_continue.py", "sidecar_reroll.py"):
        shutil.copy(os.path.join(ROOT, "plugin_host", "reaper", name), folder)
    with open(os.path.join(folder, "sidecar_settings.json"), "w") as handle:
        json.dump({"sidecar_port": stub.getsockname()[1], "variations": 2}, handle)
    state = {"ext": {}, "deferred": [], "at_exit": [], "values": {}, "console": []}
    sys.modules["reaper_python"] = stub_reaper(wav_path, state)
    # REAPER puts RPR_defer and RPR_atexit in the script's globals, not on reaper_python.
    namespace = {"RPR_defer": state["deferred"].append, "RPR_atexit": state["at_exit"].append}
    for script in ("sidecar_continue.py", "sidecar_reroll.py"):
        path = os.path.join(folder, script)
        namespace.update({"__name__": "__main__"})  # no __file__, as REAPER runs it
        with open(path, encoding="ascii") as handle:
            exec(compile(handle.read(), path, "exec"), namespace)
        data, client = stub.recvfrom(65536)
        message = decode_packet(data)[0]
        print(sys.version.split()[0], script, message.address)
        request_id = message.arguments[0]
        for index in range(2):
            stem = [request_id, index, wav_path, "seed", 5]
            stub.sendto(encode_message("/sidecar/stem", stem), client)
        stub.sendto(encode_message("/sidecar/done", [request_id, 2]), client)
        for _ in range(200):
            pending, state["deferred"][:] = list(state["deferred"]), []
            for code in pending:
                exec(code, namespace)
            if not state["deferred"]:
                break
            time.sleep(0.01)
        for code in state["at_exit"]:  # the script ended: REAPER runs its atexit code
            exec(code, namespace)
        del state["at_exit"][:]
    positions = sorted(v["D_POSITION"] for v in state["values"].values() if "D_POSITION" in v)
    print("".join(state["console"]))
    print("positions", positions)
    if state["console"][-1] != "MusicGen: done: 2 item(s) inserted\n":
        sys.exit(f"unexpected console: {state['console']!r}")


main()
