{
  "targets": [
    {
      "target_name": "srs_media",
      "sources": [
        "native/src/addon.cc",
        "native/src/addon_engine.cc",
        "native/src/addon_engine_calls.cc",
        "native/src/addon_mix.cc",
        "native/src/addon_testing.cc",
        "native/src/addon_values.cc",
        "native/src/codec.cc",
        "native/src/engine.cc",
        "native/src/engine_control.cc",
        "native/src/engine_receive.cc",
        "native/src/engine_session.cc",
        "native/src/engine_writer.cc",
        "native/src/g711.cc",
        "native/src/latch.cc",
        "native/src/leg.cc",
        "native/src/leg_dtmf.cc",
        "native/src/leg_timeline.cc",
        "native/src/mixer.cc",
        "native/src/mp3.cc",
        "native/src/mp3_encode.cc",
        "native/src/rtp.cc",
        "native/src/socket_util.cc",
        "native/src/spool.cc",
        "native/src/srtp.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "SRS_MEDIA_VERSION=\"<!(node -p \"require('./package.json').version\")\""
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "<!@(sh scripts/native-deps.sh --cflags)"],
      "libraries": ["<!@(sh scripts/native-deps.sh --libs)"]
    }
  ]
}
