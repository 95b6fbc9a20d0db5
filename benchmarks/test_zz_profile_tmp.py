import cProfile, pstats
import pytest
from chat.services import chat_completion_run
from providers.adapters.types import ChatRequest, Message
from tests.chat.helpers import model_create, provider_create, selection_set

pytestmark = pytest.mark.django_db(transaction=True)

def test_profile(openai_fake):
    provider = provider_create(openai_fake, slug="bench", kind="openai", timeout=5.0)
    model = model_create(provider, "gpt-4o-mini")
    selection_set("bench_service", model)
    request = ChatRequest(model="bench_service", messages=(Message(role="user", content="hi"),))
    for _ in range(30):
        chat_completion_run(request=request)
    p = cProfile.Profile()
    p.enable()
    for _ in range(300):
        chat_completion_run(request=request)
    p.disable()
    openai_fake.requests.clear()
    st = pstats.Stats(p); st.sort_stats("cumulative").print_stats(70)
    st.sort_stats("tottime").print_stats(30)
