// The Node binding's module entry (see addon.h): every part adds its exports, then the version.
#include <napi.h>

#include "addon.h"
#include "mp3.h"

#ifndef SRS_MEDIA_VERSION
#error "SRS_MEDIA_VERSION must be defined by binding.gyp (package.json version)"
#endif

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  srs::addon::registerTestEntries(env, exports);
  srs::addon::registerEngine(env, exports);
  srs::addon::registerMix(env, exports);
  exports.Set("version", Napi::String::New(env, SRS_MEDIA_VERSION));
  srs::registerMp3(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(srs_media, Init)
