// Messages between the audio thread and the worker: plain structs for the lock-free FIFOs.
#pragma once

#include <cstdint>

#include "core/take_player.h"

namespace mgs {

enum class TriggerSource : std::uint8_t { parameter, midi, button, file };

/// Audio thread → worker.
struct AudioEvent {
    enum class Type : std::uint8_t {
        trigger,       ///< a press (capture armed, or taken at once)
        triggerIgnored,///< a press while a capture was already waiting for its bar line
        capture,       ///< the bars are in the ring: [endSample − frames, endSample)
        reroll,
        cancel,
        started,       ///< a take's first sample sounded
        switched,      ///< A/B switch at a bar line
        released,      ///< the audio thread no longer references `take`
        tempoMismatch, ///< `flag`: the host tempo moved away from the playing take's (or back)
        overflow,      ///< events were dropped (queue full); `count` of them
    };
    Type type = Type::trigger;
    TriggerSource source = TriggerSource::parameter;
    bool quantized = false;
    bool flag = false;
    int slot = -1;
    std::int64_t endSample = 0;
    std::int64_t frames = 0;
    std::int64_t bar = 0;
    std::int64_t sample = 0;
    std::int64_t count = 0;
    double ppq = 0.0;
    double bpm = 120.0;
    int numerator = 4;
    int denominator = 4;
    const TakeAudio* take = nullptr;
    int generation = 0;  ///< of `take` (released): the prepareToPlay it was installed under
};

/// Worker → audio thread.
struct AudioCommand {
    enum class Type : std::uint8_t {
        install,   ///< put `take` into `slot`; `newSet`: the first take of a new request
        clear,     ///< empty every slot and stop
    };
    Type type = Type::install;
    int slot = 0;
    bool newSet = false;
    bool arm = false;
    const TakeAudio* take = nullptr;
    int generation = 0;  ///< commands from before the last prepareToPlay are ignored
};

constexpr int kMaxTakes = 8;

}  // namespace mgs
