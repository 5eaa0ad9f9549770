import { Args, Context, Field, Mutation, ObjectType, Query, Resolver } from '@nestjs/graphql';
import { badInputFromZod } from '../../common/errors.js';
import { actorOfGraphQL, type GraphQLContext } from '../actor.js';
import { appName } from '../dto/deploy.dto.js';
import { WebhooksService } from './webhooks.service.js';
import { principalOf } from '../../common/principal.js';
import { refusePersonalTokenMaker } from '../../common/token-maker.js';

@ObjectType('DeployWebhook')
class WebhookType {
  @Field() app!: string;
  @Field({ description: 'where the git host posts push events (GitHub, Gitea, GitLab)' }) url!: string;
  @Field() createdAt!: string;
}

@ObjectType('DeployWebhookWithSecret')
class WebhookWithSecretType extends WebhookType {
  @Field({ description: 'shown once: give it to the git host; rotate to replace it' }) secret!: string;
}

function checkedApp(value: string): string {
  const result = appName.safeParse(value);
  if (!result.success) throw badInputFromZod(result.error, 'app');
  return result.data;
}

/** Deploy-on-push webhooks in GraphQL. */
@Resolver()
export class WebhooksResolver {
  constructor(private readonly webhooks: WebhooksService) {}

  @Query(() => WebhookType, { name: 'webhook', description: "an app's push webhook (its secret is never shown again)" })
  webhook(@Args('app') app: string) {
    return this.webhooks.get(checkedApp(app));
  }

  @Mutation(() => WebhookWithSecretType, { description: "creates the app's webhook or gives it a new secret; the old secret stops working" })
  rotateWebhook(@Context() context: GraphQLContext, @Args('app') app: string) {
    refusePersonalTokenMaker(principalOf(context.reply.request.raw), 'webhook secrets');
    return this.webhooks.rotate(checkedApp(app), actorOfGraphQL(context));
  }

  @Mutation(() => Boolean)
  async deleteWebhook(@Context() context: GraphQLContext, @Args('app') app: string) {
    await this.webhooks.remove(checkedApp(app), actorOfGraphQL(context));
    return true;
  }
}
