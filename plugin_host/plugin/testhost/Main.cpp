// sidecar_testhost: hosts one VST3/LV2 plugin and obeys JSON-line commands on stdin.
//
// Each line on stdin is one JSON object with a "cmd"; each gets one JSON line on stdout with
// "ok" (and "error" when false). Between commands the JUCE message loop runs. Commands:
//   load       plugin, sample_rate, max_block, channels          -> name, latency, parameters
//   input      wav (+loop) | sine_hz (+gain) | silence
//   transport  bpm, numerator, denominator, playing, ppq (jump), loop [start, end] | null,
//              bar_start exact|none|ardour, bar_origin, position true|false
//   param      name (name or id), value (0..1)
//   note       note, velocity, length_frames
//   render     frames | seconds, block_sizes [..] (cycled), realtime
//   wait       seconds (message loop only, no audio)
//   parameters | state | save path | clear | quit
// Allocation counts are heap calls on the rendering thread inside processBlock only.

#include "AllocationCounter.h"
#include "HostSession.h"

#include <juce_events/juce_events.h>

#include <poll.h>
#include <unistd.h>

#include <iostream>
#include <string>

namespace
{
using testhost::HostSession;

juce::var failure (const juce::String& message)
{
    juce::DynamicObject::Ptr reply (new juce::DynamicObject()); // reference-counted
    reply->setProperty ("ok", false);
    reply->setProperty ("error", message);
    return juce::var (reply.get());
}

juce::DynamicObject::Ptr success()
{
    juce::DynamicObject::Ptr reply (new juce::DynamicObject()); // reference-counted
    reply->setProperty ("ok", true);
    return reply;
}

juce::var statsToVar (const testhost::RenderStats& stats)
{
    auto reply = success();
    reply->setProperty ("first_sample", stats.firstSample);
    reply->setProperty ("blocks", stats.blocks);
    reply->setProperty ("frames", stats.frames);
    reply->setProperty ("allocations", (juce::int64) stats.allocations);
    reply->setProperty ("deallocations", (juce::int64) stats.deallocations);
    reply->setProperty ("plugin_allocations", (juce::int64) stats.pluginAllocations);
    reply->setProperty ("plugin_deallocations", (juce::int64) stats.pluginDeallocations);
    reply->setProperty ("mean_block_us", stats.meanBlockMicroseconds);
    reply->setProperty ("median_block_us", stats.medianBlockMicroseconds);
    reply->setProperty ("p99_block_us", stats.p99BlockMicroseconds);
    reply->setProperty ("max_block_us", stats.maxBlockMicroseconds);
    reply->setProperty ("mean_block_load", stats.meanBlockLoad);
    juce::Array<juce::var> sites;
    for (const auto& site : stats.allocationSites)
        sites.add (juce::String (site));
    reply->setProperty ("allocation_sites", sites);
    juce::Array<juce::var> timeline;
    for (const auto& block : stats.timeline)
        timeline.add (juce::Array<juce::var> { block.frames, block.ppq, block.bpm, block.playing, block.positioned });
    reply->setProperty ("timeline", timeline); // [frames, ppq, bpm, playing, positioned] a block
    return juce::var (reply.get());
}

juce::var transportCommand (HostSession& session, const juce::var& command)
{
    auto& transport = session.transport();
    if (command.hasProperty ("bpm"))
        transport.setTempo ((double) command["bpm"]);
    if (command.hasProperty ("numerator") || command.hasProperty ("denominator"))
        transport.setMetre ((int) command.getProperty ("numerator", 4), (int) command.getProperty ("denominator", 4));
    if (command.hasProperty ("playing"))
        transport.setPlaying ((bool) command["playing"]);
    if (command.hasProperty ("ppq"))
        transport.jumpTo ((double) command["ppq"]);
    if (command.hasProperty ("bar_origin"))
        transport.setBarOrigin ((double) command["bar_origin"]);
    if (command.hasProperty ("position"))
        transport.setPositionAvailable ((bool) command["position"]);
    if (command.hasProperty ("loop"))
    {
        const auto& loop = command["loop"];
        if (loop.isArray() && loop.size() == 2)
            transport.setLoop (true, (double) loop[0], (double) loop[1]);
        else
            transport.setLoop (false, 0.0, 0.0);
    }
    if (command.hasProperty ("bar_start"))
    {
        const auto mode = command["bar_start"].toString();
        if (mode == "exact")
            transport.setBarStartMode (testhost::BarStartMode::exact);
        else if (mode == "none")
            transport.setBarStartMode (testhost::BarStartMode::none);
        else if (mode == "ardour")
            transport.setBarStartMode (testhost::BarStartMode::ardour);
        else
            return failure ("bar_start must be exact, none or ardour, not " + mode);
    }
    auto reply = success();
    reply->setProperty ("ppq", transport.ppq());
    reply->setProperty ("timeline_samples", transport.timelineSamples());
    return juce::var (reply.get());
}

juce::var renderCommand (HostSession& session, const juce::var& command, double sampleRate)
{
    juce::int64 frames = 0;
    if (command.hasProperty ("frames"))
        frames = (juce::int64) command["frames"];
    else
        frames = (juce::int64) std::llround ((double) command.getProperty ("seconds", 1.0) * sampleRate);
    if (frames <= 0)
        return failure ("render needs frames > 0 or seconds > 0");

    std::vector<int> sizes;
    if (const auto* list = command["block_sizes"].getArray())
        for (const auto& size : *list)
            sizes.push_back (juce::jmax (1, (int) size));
    if (sizes.empty())
        sizes.push_back ((int) command.getProperty ("block_size", 512));
    auto reply = statsToVar (session.render (frames, sizes, (bool) command.getProperty ("realtime", false)));
    reply.getDynamicObject()->setProperty ("end_ppq", session.transport().ppq());
    return reply;
}

juce::var handle (HostSession& session, const juce::var& command, double& sampleRate, bool& quit)
{
    const auto name = command["cmd"].toString();
    if (name == "quit")
    {
        quit = true;
        return juce::var (success().get());
    }
    if (name == "load")
    {
        sampleRate = (double) command.getProperty ("sample_rate", 48000.0);
        const auto error = session.load (juce::File (command["plugin"].toString()), sampleRate,
                                         (int) command.getProperty ("max_block", 2048), (int) command.getProperty ("channels", 2));
        if (error.isNotEmpty())
            return failure (error);
        auto reply = success();
        reply->setProperty ("name", session.pluginName());
        reply->setProperty ("latency_samples", session.latencySamples());
        reply->setProperty ("parameters", session.describeParameters());
        return juce::var (reply.get());
    }
    if (! session.isLoaded())
        return failure ("load a plugin first (cmd " + name + ")");

    juce::String error;
    if (name == "input")
    {
        if (command.hasProperty ("wav"))
            error = session.setInputFile (juce::File (command["wav"].toString()), (bool) command.getProperty ("loop", true));
        else if (command.hasProperty ("sine_hz"))
            session.setInputSine ((double) command["sine_hz"], (float) (double) command.getProperty ("gain", 0.25));
        else
            session.setInputSilence();
    }
    else if (name == "transport")
        return transportCommand (session, command);
    else if (name == "param")
        error = session.setParameter (command["name"].toString(), (float) (double) command["value"]);
    else if (name == "note")
        session.queueNote ((int) command.getProperty ("note", 60), (int) command.getProperty ("velocity", 100),
                           (int) command.getProperty ("length_frames", 4800));
    else if (name == "render")
        return renderCommand (session, command, sampleRate);
    else if (name == "wait")
        juce::MessageManager::getInstance()->runDispatchLoopUntil ((int) ((double) command.getProperty ("seconds", 0.1) * 1000.0));
    else if (name == "parameters" || name == "state")
    {
        auto reply = success();
        if (name == "parameters")
            reply->setProperty ("parameters", session.describeParameters());
        else
            reply->setProperty ("state_base64", session.stateBase64());
        return juce::var (reply.get());
    }
    else if (name == "save")
        error = session.saveOutput (juce::File (command["path"].toString()));
    else if (name == "clear")
        session.clearOutput();
    else
        return failure ("unknown cmd '" + name + "'");

    return error.isEmpty() ? juce::var (success().get()) : failure (error);
}

bool stdinReadable (int timeoutMilliseconds)
{
    pollfd fd { STDIN_FILENO, POLLIN, 0 };
    return poll (&fd, 1, timeoutMilliseconds) > 0;
}
} // namespace

int main()
{
    testhost::warmUpAllocationTracing();
    juce::ScopedJuceInitialiser_GUI juce;
    double sampleRate = 48000.0;
    bool quit = false;
    {
        HostSession session;
        std::string line;
        while (! quit)
        {
            if (! stdinReadable (5))
            {
                juce::MessageManager::getInstance()->runDispatchLoopUntil (5);
                continue;
            }
            if (! std::getline (std::cin, line))
                break;
            if (line.find_first_not_of (" \t\r") == std::string::npos)
                continue;
            const auto command = juce::JSON::parse (juce::String (line));
            const auto reply = command.isObject() ? handle (session, command, sampleRate, quit)
                                                  : failure ("not a JSON object: " + juce::String (line).substring (0, 80));
            std::cout << juce::JSON::toString (reply, true).toStdString() << std::endl;
        }
    }
    return 0;
}
