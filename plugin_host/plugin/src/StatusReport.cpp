// Status report: what the window shows, written as a JSON snapshot and a JSON-lines event log.
#include "StatusReport.h"

#include "Settings.h"

namespace mgs {

namespace {
juce::var object(std::initializer_list<std::pair<const char*, juce::var>> fields) {
    auto* o = new juce::DynamicObject();  // owned by the var (JUCE reference counting)
    juce::var holder(o);
    for (const auto& [name, value] : fields) o->setProperty(name, value);
    return holder;
}

double nowSeconds() { return static_cast<double>(juce::Time::currentTimeMillis()) / 1000.0; }
}  // namespace

juce::var StatusSnapshot::toVar() const {
    juce::Array<juce::var> takeList;
    for (const auto& t : takes)
        takeList.add(object({{"index", t.index}, {"path", t.path}, {"seed", t.seed}, {"bpm", t.bpm},
                             {"bars", t.bars}, {"loaded", t.loaded}, {"error", t.error},
                             {"request_id", t.requestId}}));
    return object({
        {"status", status},
        {"sidecar", object({{"state", sidecarState}, {"model", model}, {"device", device},
                            {"version", version}, {"host", host}, {"port", port}})},
        {"request", object({{"id", requestId}, {"state", requestState}, {"progress", progress},
                            {"eta_seconds", etaSeconds}, {"error_code", errorCode},
                            {"error_message", errorMessage}, {"cancel_confirmed", cancelConfirmed}})},
        {"capture", object({{"path", capturePath}, {"bars", captureBars}, {"bpm", captureBpm},
                            {"beats_per_bar", captureBeatsPerBar}, {"seconds", captureSeconds},
                            {"start_ppq", captureStartPpq}, {"end_ppq", captureEndPpq}})},
        {"takes", takeList},
        {"selected_take", selectedTake},
        {"player", object({{"state", playerState}, {"take", playerTake}, {"start_ppq", playerStartPpq},
                           {"start_bar", playerStartBar}, {"start_sample", playerStartSample}})},
        {"transport", object({{"bpm", bpm}, {"numerator", numerator}, {"denominator", denominator},
                              {"ppq", ppq}, {"playing", playing}, {"has_host_position", hasHostPosition}})},
        {"tempo_mismatch", tempoMismatch},
        {"counters", object({{"triggers", triggers}, {"captures", captures}, {"requests", requests},
                             {"stems", stems}, {"unknown_replies", unknownReplies}, {"blocks", blocks},
                             {"resyncs", resyncs}})},
    });
}

StatusFiles::StatusFiles() {
    const juce::String snapshot = environment("MUSICGEN_SIDECAR_STATUS_FILE");
    if (snapshot.isNotEmpty() && juce::File::isAbsolutePath(snapshot)) snapshotFile_ = juce::File(snapshot);
    const juce::String events = environment("MUSICGEN_SIDECAR_EVENT_LOG");
    if (events.isNotEmpty() && juce::File::isAbsolutePath(events)) eventFile_ = juce::File(events);
}

void StatusFiles::writeSnapshot(const StatusSnapshot& snapshot) {
    if (snapshotFile_ == juce::File()) return;
    juce::var v = snapshot.toVar();
    if (auto* o = v.getDynamicObject()) o->setProperty("time", nowSeconds());
    const juce::File temp = snapshotFile_.withFileExtension(snapshotFile_.getFileExtension() + ".tmp");
    if (temp.replaceWithText(juce::JSON::toString(v, true) + "\n")) temp.moveFileTo(snapshotFile_);
}

void StatusFiles::event(const juce::String& name, const juce::NamedValueSet& fields) {
    if (eventFile_ == juce::File()) return;
    auto* o = new juce::DynamicObject();  // owned by the var
    juce::var v(o);
    o->setProperty("event", name);
    o->setProperty("time", nowSeconds());
    for (const auto& f : fields) o->setProperty(f.name, f.value);
    eventFile_.appendText(juce::JSON::toString(v, true) + "\n", false, false, "\n");
}

}  // namespace mgs
