-- ardour7-lua (Ardour's headless luasession) script for tests/plugin_host/plugin/test_ardour.py.
-- One session on the "None (Dummy)" backend whose capture ports play a sine; one stereo audio
-- track (monitoring its input) with the MusicGenSidecar VST3; roll, press Generate through
-- ARDOUR.LuaAPI.set_processor_param, wait for the plugin's status file to show a take
-- playing, stop, and export bars 0.. of the session as WAV. Everything it needs comes from the
-- environment (ARDOUR_TEST_*, and the plugin's MUSICGEN_SIDECAR_*). Lines starting "RESULT "
-- are for the test.

local function env (name)
	local value = os.getenv (name)
	assert (value and value ~= "", name .. " is not set")
	return value
end

local session_dir = env ("ARDOUR_TEST_SESSION_DIR")
local export_dir = env ("ARDOUR_TEST_EXPORT_DIR")
local bpm = tonumber (env ("ARDOUR_TEST_BPM"))
local numerator = tonumber (env ("ARDOUR_TEST_NUMERATOR"))
local denominator = tonumber (env ("ARDOUR_TEST_DENOMINATOR"))
local bars_after_start = tonumber (env ("ARDOUR_TEST_EXPORT_BARS_AFTER_START"))
local take_timeout = tonumber (env ("ARDOUR_TEST_TAKE_TIMEOUT_SECONDS"))
local status_path = env ("MUSICGEN_SIDECAR_STATUS_FILE")
local rate = 48000
local bar_seconds = numerator * 4 / denominator * 60 / bpm

local backend = AudioEngine:set_backend ("None (Dummy)", "", "")
assert (backend, "no None (Dummy) backend")
backend:set_device_name ("Sine Wave")

local session = create_session (session_dir, "take", rate)
assert (session, "create_session failed")

local map = Temporal.TempoMap.fetch_writable ()
map:set_tempo (Temporal.Tempo (bpm, bpm, 4), Temporal.timepos_t (0))
map:set_meter (Temporal.Meter (numerator, denominator), Temporal.timepos_t (0))
Temporal.TempoMap.update (map)

local tracks = session:new_audio_track (2, 2, nil, 1, "Drums", ARDOUR.PresentationInfo.max_order, ARDOUR.TrackMode.Normal, true)
local track = tracks:table ()[1]
local _, found = AudioEngine:get_backend_ports ("", ARDOUR.DataType ("audio"), ARDOUR.PortFlags.IsOutput | ARDOUR.PortFlags.IsPhysical, C.StringVector ())
local capture = found[4]:table ()
track:input ():disconnect_all (nil)
track:input ():audio (0):connect (capture[1])
track:input ():audio (1):connect (capture[2])
track:monitoring_control ():set_value (ARDOUR.MonitorChoice.MonitorInput, PBD.GroupControlDisposition.NoGroup)

local processor = ARDOUR.LuaAPI.new_plugin (session, "MusicGenSidecar", ARDOUR.PluginType.VST3, "")
assert (not processor:isnil (), "MusicGenSidecar VST3 not found: scan it with ardour-vst3-scanner")
assert (track:add_processor_by_index (processor, 0, nil, true) == 0, "could not add the plugin")
local plugin = processor:to_insert ():plugin (0)

-- Parameters by name; values given normalised (INTERFACE.md) and mapped to Ardour's range.
local function parameter (name)
	for i = 0, plugin:parameter_count () - 1 do
		local _, described = plugin:get_parameter_descriptor (i, ARDOUR.ParameterDescriptor ())
		local d = described[2]
		if d.label == name then return i, d end
	end
	error ("no parameter " .. name)
end

local function set (name, normalised)
	local index, d = parameter (name)
	local value = d.lower + normalised * (d.upper - d.lower)
	assert (ARDOUR.LuaAPI.set_processor_param (processor, index, value), "set " .. name)
end

set ("Mix", 1)                -- take only
set ("Capture bars", 0)       -- 1 bar
set ("Take bars", 1 / 31)     -- 2 bars
set ("Loop", tonumber (env ("ARDOUR_TEST_LOOP")))  -- 0: a one-shot, silent before its bar

local function status_text ()
	local file = io.open (status_path, "r")
	if not file then return "" end
	local text = file:read ("a")
	file:close ()
	return text
end

local function seconds_rolled () return session:transport_sample () / rate end

session:request_roll (ARDOUR.TransportRequestSource.TRS_UI)
while seconds_rolled () < 1.3 * bar_seconds do ARDOUR.LuaAPI.usleep (20000) end
set ("Generate", 1)
print ("RESULT pressed_at_seconds " .. seconds_rolled ())
ARDOUR.LuaAPI.usleep (200000)
set ("Generate", 0)

local waited = 0
while not string.find (status_text (), '"state": *"playing"') do
	ARDOUR.LuaAPI.usleep (100000)
	waited = waited + 0.1
	if waited > take_timeout then
		print ("RESULT no_take_after_seconds " .. waited)
		break
	end
end
print ("RESULT rolled_seconds " .. seconds_rolled ())
ARDOUR.LuaAPI.usleep (math.floor (bar_seconds * 1e6 / 2))
session:request_stop (false, false, ARDOUR.TransportRequestSource.TRS_UI)
ARDOUR.LuaAPI.usleep (300000)

-- Export from bar 0 to some bars past the take's start bar, in freewheel: the transport
-- starts again at 0, the plugin keeps its take.
local start_bar = tonumber (string.match (status_text (), '"start_bar": *(%d+)') or "0")
local export_bars = start_bar + bars_after_start
print ("RESULT start_bar " .. start_bar)
local export = session:simple_export ()
export:set_name ("export")
export:set_folder (export_dir)
export:set_range (0, math.floor (export_bars * bar_seconds * rate))
-- The test's own 32-bit float preset if Ardour found it, else Ardour's "WAV @ session-rate".
if not export:set_preset (env ("ARDOUR_TEST_PRESET")) then
	print ("RESULT preset fallback-wav16")
	assert (export:set_preset ("75969a1c-3133-4694-864b-a1fa50e43348"), "no WAV export preset")
end
print ("RESULT exported " .. tostring (export:run_export ()))
close_session ()
quit ()
